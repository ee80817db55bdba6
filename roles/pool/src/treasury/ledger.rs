//! The ledger: work rows, found blocks, attribution of rewards, maturity and orphaning, all as
//! append-only entries in exact satoshis. Every state change is one database transaction, so
//! a crash at any point leaves the ledger as it was before or after a change, never between.
//!
//! Entry model: a block's reward is first credited to the `immature` bucket of each account
//! (kind `credit`). Later changes move amounts between buckets with pairs of entries (−x from
//! one bucket, +x to another): `mature` (immature → mature), `reversal` (immature/mature →
//! orphaned), `reinstate` (orphaned → immature, when a block returns to the best chain). The
//! entries of a block therefore always sum to its reward, and `balances` (kept in the same
//! transactions) equals the sum of the entries per account and bucket.

use std::collections::BTreeMap;

use crate::accounting::{
    unix_now, DeclaredBlock, FoundBlock, SinkError, WorkRecord, WorkSink, WorkerId,
};

use super::config::WindowConfig;
use super::settings::{Database, LedgerSettings};
use super::split::{split_block, SiteWork};
use super::store::{
    self, postgres::PostgresBackend, read_tx, sqlite::SqliteBackend, write_tx, Backend,
    BackendKind, Conn, StoreError, Val,
};
use super::UNASSIGNED_SITE;

/// How a found block reached the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockSource {
    /// Reported by the pool's block submitter, or a block found on a declared job that the
    /// chain tracker saw in the best chain (its `node_result` is `declared-job`).
    Pool,
    /// Found by the chain scan (the pool stopped before it could record it).
    Recovered,
}

impl BlockSource {
    fn as_str(self) -> &'static str {
        match self {
            BlockSource::Pool => "pool",
            BlockSource::Recovered => "recovered",
        }
    }
}

/// Result of recording a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// First time this hash is seen.
    New,
    /// Already recorded: nothing changed (credited once).
    Duplicate,
    /// Was recorded by the chain scan; the pool's details (finder, time) were filled in.
    Merged,
}

/// A block whose chain membership the tracker must check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedBlock {
    /// Ledger id.
    pub id: i64,
    /// Height.
    pub height: u64,
    /// Hash (display hex).
    pub hash: String,
    /// Current status.
    pub status: String,
}

/// What the node says is at a tracked block's height.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Ledger id of the block.
    pub block_id: i64,
    /// Active-chain hash at the block's height (`None`: the chain is shorter now).
    pub active_hash: Option<String>,
}

/// Status changes made by [`Ledger::apply_chain`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainChanges {
    /// Blocks that became mature.
    pub matured: Vec<i64>,
    /// Blocks that left the best chain (credits reversed).
    pub orphaned: Vec<i64>,
    /// Orphaned blocks that are back on the best chain.
    pub reinstated: Vec<i64>,
}

/// Result of [`Ledger::audit`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    /// `balances` rows that differ from the sum of the entries.
    pub balance_mismatches: Vec<String>,
    /// Blocks whose entries do not sum to their reward (or to 0 while pending).
    pub block_mismatches: Vec<String>,
    /// Number of entries checked.
    pub entries: u64,
}

impl Audit {
    /// No mismatch.
    pub fn is_clean(&self) -> bool {
        self.balance_mismatches.is_empty() && self.block_mismatches.is_empty()
    }
}

/// The treasury ledger.
pub struct Ledger {
    backend: Box<dyn Backend>,
    settings: LedgerSettings,
}

fn i64_of(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Logic(format!("{what} {v} out of range")))
}

fn first_int(c: &mut dyn Conn, sql: &str, params: &[Val]) -> Result<i64, StoreError> {
    c.query(sql, params)?
        .first()
        .map(|r| r.int(0))
        .transpose()?
        .ok_or_else(|| StoreError::Decode(format!("no row from `{sql}`")))
}

impl Ledger {
    /// Opens the configured database (creating a SQLite file on first start), applies
    /// migrations and records the configured accounts and sites.
    pub fn open(settings: LedgerSettings) -> Result<Ledger, StoreError> {
        let backend: Box<dyn Backend> = match &settings.database {
            Database::Sqlite(path) => Box::new(SqliteBackend::open(path)?),
            Database::Postgres(url) => Box::new(PostgresBackend::connect(url)?),
        };
        Self::with_backend(backend, settings)
    }

    /// Uses an already opened backend.
    pub fn with_backend(
        backend: Box<dyn Backend>,
        settings: LedgerSettings,
    ) -> Result<Ledger, StoreError> {
        let migrations = match backend.kind() {
            BackendKind::Sqlite => store::SQLITE_MIGRATIONS,
            BackendKind::Postgres => store::POSTGRES_MIGRATIONS,
        };
        store::migrate(backend.as_ref(), migrations)?;
        let ledger = Ledger { backend, settings };
        ledger.sync_config()?;
        Ok(ledger)
    }

    /// The database kind.
    pub fn backend_kind(&self) -> BackendKind {
        self.backend.kind()
    }

    /// The settings the ledger runs with.
    pub fn settings(&self) -> &LedgerSettings {
        &self.settings
    }

    /// Runs a read-only query body (reports).
    pub fn read<R: Send>(
        &self,
        f: impl FnMut(&mut dyn Conn) -> Result<R, StoreError> + Send,
    ) -> Result<R, StoreError> {
        read_tx(self.backend.as_ref(), f)
    }

    fn sync_config(&self) -> Result<(), StoreError> {
        let s = &self.settings;
        let now = unix_now() as i64;
        write_tx(self.backend.as_ref(), |c| {
            let mut accounts: Vec<(String, &str, String)> = s
                .treasury
                .iter()
                .map(|t| {
                    let name = t.account.trim_start_matches("treasury/").to_owned();
                    (t.account.clone(), "treasury", name)
                })
                .collect();
            for p in s.partners() {
                accounts.push((super::settings::partner_account(&p), "partner", p));
            }
            for (id, kind, name) in &accounts {
                c.execute(
                    "INSERT INTO accounts (id, kind, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    &[id.into(), (*kind).into(), name.into(), now.into()],
                )?;
            }
            let unassigned = super::settings::Site {
                id: UNASSIGNED_SITE.to_owned(),
                name: "Unassigned".to_owned(),
                country: String::new(),
                partner: None,
                partner_ppm: 0,
            };
            for site in s.sites.iter().chain(std::iter::once(&unassigned)) {
                c.execute(
                    "INSERT INTO sites (id, name, country, partner, partner_share_ppm, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, country = excluded.country, partner = excluded.partner, \
                     partner_share_ppm = excluded.partner_share_ppm, updated_at = excluded.updated_at",
                    &[
                        (&site.id).into(),
                        (&site.name).into(),
                        (&site.country).into(),
                        site.partner.clone().map_or(Val::Null, Val::Text),
                        Val::Int(site.partner_ppm.into()),
                        now.into(),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// Stores one flush batch as one row per site (and per-minute site figures), then
    /// attributes the blocks this work completes. Returns the number of blocks attributed.
    pub fn record_work_at(&self, batch: &[WorkRecord], now: u64) -> Result<usize, StoreError> {
        self.record_work_upto(batch, None, now)
    }

    /// The last work journal sequence number this node's work rows cover (0 if none).
    pub fn journal_applied_seq(&self) -> Result<u64, StoreError> {
        let node = i64::from(self.settings.node_id);
        read_tx(self.backend.as_ref(), |c| {
            let rows = c.query(
                "SELECT applied_seq FROM work_journal WHERE node_id = ?",
                &[node.into()],
            )?;
            Ok(match rows.first() {
                Some(r) => u64::try_from(r.int(0)?).unwrap_or(0),
                None => 0,
            })
        })
    }

    /// [`Ledger::record_work_at`], also storing (in the same transaction) that this node's
    /// work journal is applied up to `journal_upto`.
    pub fn record_work_upto(
        &self,
        batch: &[WorkRecord],
        journal_upto: Option<u64>,
        now: u64,
    ) -> Result<usize, StoreError> {
        #[derive(Default)]
        struct Agg {
            start: u64,
            end: u64,
            shares: u64,
            difficulty: f64,
            rejected: u64,
            workers: u64,
        }
        let mut by_site: BTreeMap<String, Agg> = BTreeMap::new();
        for r in batch {
            let a = by_site
                .entry(self.settings.site_of(&r.worker))
                .or_insert(Agg {
                    start: r.window_start,
                    end: r.window_end,
                    ..Agg::default()
                });
            a.start = a.start.min(r.window_start);
            a.end = a.end.max(r.window_end);
            a.shares = a.shares.saturating_add(r.shares);
            if r.difficulty_sum.is_finite() && r.difficulty_sum > 0.0 {
                a.difficulty += r.difficulty_sum;
            }
            a.rejected = a.rejected.saturating_add(r.rejected);
            a.workers += 1;
        }
        let node = i64::from(self.settings.node_id);
        write_tx(self.backend.as_ref(), |c| {
            for (site, a) in &by_site {
                c.execute(
                    "INSERT INTO work (node_id, site, window_start, window_end, shares, difficulty, rejected, workers) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    &[
                        node.into(),
                        site.into(),
                        i64_of(a.start, "window start")?.into(),
                        i64_of(a.end, "window end")?.into(),
                        i64_of(a.shares, "shares")?.into(),
                        a.difficulty.into(),
                        i64_of(a.rejected, "rejected")?.into(),
                        i64_of(a.workers, "workers")?.into(),
                    ],
                )?;
                if a.shares > 0 {
                    let minute = (a.start / 2 + a.end / 2 + (a.start % 2 + a.end % 2) / 2) / 60;
                    c.execute(
                        "INSERT INTO site_minutes (site, minute, shares, difficulty) VALUES (?, ?, ?, ?) \
                         ON CONFLICT (site, minute) DO UPDATE SET shares = site_minutes.shares + excluded.shares, \
                         difficulty = site_minutes.difficulty + excluded.difficulty",
                        &[
                            site.into(),
                            i64_of(minute, "minute")?.into(),
                            i64_of(a.shares, "shares")?.into(),
                            a.difficulty.into(),
                        ],
                    )?;
                }
            }
            if let Some(upto) = journal_upto {
                c.execute(
                    "INSERT INTO work_journal (node_id, applied_seq) VALUES (?, ?) \
                     ON CONFLICT (node_id) DO UPDATE SET applied_seq = excluded.applied_seq",
                    &[node.into(), i64_of(upto, "journal sequence")?.into()],
                )?;
            }
            attribute_pending(c, &self.settings, now)
        })
    }

    /// Records a found block (idempotent by hash: a block recorded twice is credited once).
    /// The block is durable when this returns; its reward is credited once the work up to it
    /// has been flushed (see [`Ledger::attribute_due`]).
    pub fn record_block_from(
        &self,
        block: &FoundBlock,
        source: BlockSource,
        now: u64,
    ) -> Result<RecordOutcome, StoreError> {
        let (finder_site, finder) = match source {
            BlockSource::Pool => (self.settings.site_of(&block.finder), block.finder.full()),
            BlockSource::Recovered => (UNASSIGNED_SITE.to_owned(), String::new()),
        };
        let params: [Val; 10] = [
            i64_of(block.height, "height")?.into(),
            (&block.hash).into(),
            i64_of(block.reward_sats, "reward")?.into(),
            i64_of(block.fees_sats, "fees")?.into(),
            i64_of(block.time, "time")?.into(),
            finder.into(),
            finder_site.into(),
            (&block.node_result).into(),
            source.as_str().into(),
            i64_of(now, "now")?.into(),
        ];
        write_tx(self.backend.as_ref(), |c| {
            let existing = c.query(
                "SELECT id, source, status FROM blocks WHERE hash = ?",
                &[(&block.hash).into()],
            )?;
            let outcome = match existing.first() {
                None => {
                    c.execute(
                        "INSERT INTO blocks (height, hash, reward_sats, fees_sats, found_at, finder, finder_site, node_result, source, status, recorded_at, status_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                        &[
                            params[0].clone(),
                            params[1].clone(),
                            params[2].clone(),
                            params[3].clone(),
                            params[4].clone(),
                            params[5].clone(),
                            params[6].clone(),
                            params[7].clone(),
                            params[8].clone(),
                            params[9].clone(),
                            params[9].clone(),
                        ],
                    )?;
                    RecordOutcome::New
                }
                Some(row) => {
                    let (id, src, status) = (row.int(0)?, row.text(1)?, row.text(2)?);
                    if src == "recovered" && status == "pending" && source == BlockSource::Pool {
                        c.execute(
                            "UPDATE blocks SET fees_sats = ?, found_at = ?, finder = ?, finder_site = ?, node_result = ?, source = ? WHERE id = ?",
                            &[
                                params[3].clone(),
                                params[4].clone(),
                                params[5].clone(),
                                params[6].clone(),
                                params[7].clone(),
                                params[8].clone(),
                                id.into(),
                            ],
                        )?;
                        RecordOutcome::Merged
                    } else {
                        RecordOutcome::Duplicate
                    }
                }
            };
            attribute_pending(c, &self.settings, now)?;
            Ok(outcome)
        })
    }

    /// Attributes pending blocks whose window is complete (a later work flush arrived) or
    /// whose grace period is over. Returns how many were attributed.
    pub fn attribute_due(&self, now: u64) -> Result<usize, StoreError> {
        write_tx(self.backend.as_ref(), |c| {
            attribute_pending(c, &self.settings, now)
        })
    }

    /// Remembers a block found on a declared job until the chain tracker sees it in the best
    /// chain (idempotent by hash).
    pub fn record_declared(&self, block: &DeclaredBlock) -> Result<(), StoreError> {
        write_tx(self.backend.as_ref(), |c| {
            c.execute(
                "INSERT INTO declared_blocks (hash, site, worker, found_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                &[
                    (&block.hash).into(),
                    (&block.finder.site).into(),
                    (&block.finder.worker).into(),
                    i64_of(block.time, "time")?.into(),
                ],
            )?;
            Ok(())
        })
    }

    /// Blocks found on declared jobs that the tracker has not credited or given up on yet.
    pub fn declared_blocks(&self) -> Result<Vec<DeclaredBlock>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT hash, site, worker, found_at FROM declared_blocks ORDER BY found_at, hash",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(DeclaredBlock {
                    hash: r.text(0)?,
                    finder: WorkerId {
                        site: r.text(1)?,
                        worker: r.text(2)?,
                    },
                    time: u64::try_from(r.int(3)?).unwrap_or(0),
                })
            })
            .collect()
        })
    }

    /// Forgets a declared block (credited, or never reached the best chain).
    pub fn forget_declared(&self, hash: &str) -> Result<(), StoreError> {
        write_tx(self.backend.as_ref(), |c| {
            c.execute("DELETE FROM declared_blocks WHERE hash = ?", &[hash.into()])?;
            Ok(())
        })
    }

    /// Whether a block hash is in the ledger.
    pub fn has_block(&self, hash: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(!c
                .query("SELECT id FROM blocks WHERE hash = ?", &[hash.into()])?
                .is_empty())
        })
    }

    /// Blocks whose chain membership matters at `tip_height`: immature ones, and orphaned
    /// ones recent enough to come back.
    pub fn blocks_to_check(&self, tip_height: u64) -> Result<Vec<TrackedBlock>, StoreError> {
        let horizon = tip_height.saturating_sub(2 * u64::from(self.settings.maturity));
        self.read(|c| {
            c.query(
                "SELECT id, height, hash, status FROM blocks WHERE status = 'immature' OR (status = 'orphaned' AND height >= ?) ORDER BY height, id",
                &[i64_of(horizon, "height")?.into()],
            )?
            .iter()
            .map(|r| {
                Ok(TrackedBlock {
                    id: r.int(0)?,
                    height: r.uint(1)?,
                    hash: r.text(2)?,
                    status: r.text(3)?,
                })
            })
            .collect()
        })
    }

    /// Applies what the node reported at tip `tip_height`: orphans blocks no longer on the
    /// best chain (reversing entries), reinstates ones that came back, matures the ones with
    /// enough confirmations. Statuses are re-read inside the transaction, so concurrent
    /// trackers (several pool nodes) apply each change once.
    pub fn apply_chain(
        &self,
        tip_height: u64,
        tip_hash: &str,
        observations: &[Observation],
        now: u64,
    ) -> Result<ChainChanges, StoreError> {
        let maturity = u64::from(self.settings.maturity);
        write_tx(self.backend.as_ref(), |c| {
            let mut changes = ChainChanges::default();
            for o in observations {
                let rows = c.query(
                    "SELECT height, hash, status FROM blocks WHERE id = ?",
                    &[o.block_id.into()],
                )?;
                let Some(row) = rows.first() else { continue };
                let (height, hash, mut status) = (row.uint(0)?, row.text(1)?, row.text(2)?);
                let on_chain = o.active_hash.as_deref() == Some(hash.as_str());
                match (status.as_str(), on_chain) {
                    ("immature" | "mature", false) => {
                        move_bucket(c, o.block_id, "immature", "orphaned", "reversal", now)?;
                        move_bucket(c, o.block_id, "mature", "orphaned", "reversal", now)?;
                        set_status(c, o.block_id, "orphaned", now)?;
                        changes.orphaned.push(o.block_id);
                        continue;
                    }
                    ("orphaned", true) => {
                        move_bucket(c, o.block_id, "orphaned", "immature", "reinstate", now)?;
                        set_status(c, o.block_id, "immature", now)?;
                        changes.reinstated.push(o.block_id);
                        status = "immature".into();
                    }
                    _ => {}
                }
                if status == "immature" && on_chain && tip_height + 1 >= height + maturity {
                    move_bucket(c, o.block_id, "immature", "mature", "mature", now)?;
                    set_status(c, o.block_id, "mature", now)?;
                    changes.matured.push(o.block_id);
                }
            }
            set_meta(c, "tip_height", &tip_height.to_string())?;
            set_meta(c, "tip_hash", tip_hash)?;
            set_meta(c, "tip_checked_at", &now.to_string())?;
            Ok(changes)
        })
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            c.query("SELECT value FROM meta WHERE key = ?", &[key.into()])?
                .first()
                .map(|r| r.text(0))
                .transpose()
        })
    }

    /// Sets a value of the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        write_tx(self.backend.as_ref(), |c| set_meta(c, key, value))
    }

    /// Deletes raw work rows older than the retention that no pending block still needs.
    /// Per-minute site figures (uptime, hashrate) are kept. Returns the rows deleted.
    pub fn prune_work(&self, now: u64) -> Result<u64, StoreError> {
        let cutoff = now.saturating_sub(self.settings.work_retention_days.saturating_mul(86_400));
        write_tx(self.backend.as_ref(), |c| {
            let consumed = first_int(
                c,
                "SELECT CAST(COALESCE(MAX(work_to_id), 0) AS BIGINT) FROM blocks",
                &[],
            )?;
            c.execute(
                "DELETE FROM work WHERE window_end < ? AND id <= ?",
                &[i64_of(cutoff, "time")?.into(), consumed.into()],
            )
        })
    }

    /// Checks the ledger's invariants: `balances` equals the sum of entries per account and
    /// bucket; the entries of every attributed block sum to its reward (0 while pending).
    pub fn audit(&self) -> Result<Audit, StoreError> {
        self.read(|c| {
            let mut audit = Audit::default();
            let sums = c.query(
                "SELECT account, bucket, CAST(SUM(amount_sats) AS BIGINT) FROM entries GROUP BY account, bucket ORDER BY account, bucket",
                &[],
            )?;
            let balances = c.query(
                "SELECT account, bucket, amount_sats FROM balances ORDER BY account, bucket",
                &[],
            )?;
            let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
            for r in &sums {
                expected.insert((r.text(0)?, r.text(1)?), r.int(2)?);
            }
            let mut seen = BTreeMap::new();
            for r in &balances {
                let key = (r.text(0)?, r.text(1)?);
                let have = r.int(2)?;
                let want = expected.get(&key).copied().unwrap_or(0);
                if have != want {
                    audit
                        .balance_mismatches
                        .push(format!("{}/{}: balance {have} != entries {want}", key.0, key.1));
                }
                seen.insert(key, ());
            }
            for (key, want) in &expected {
                if !seen.contains_key(key) && *want != 0 {
                    audit
                        .balance_mismatches
                        .push(format!("{}/{}: no balance row, entries {want}", key.0, key.1));
                }
            }
            let blocks = c.query(
                "SELECT b.id, b.hash, b.status, b.reward_sats, \
                 CAST(COALESCE((SELECT SUM(e.amount_sats) FROM entries e WHERE e.block_id = b.id), 0) AS BIGINT), \
                 CAST(COALESCE((SELECT SUM(e.amount_sats) FROM entries e WHERE e.block_id = b.id AND e.kind = 'credit'), 0) AS BIGINT) \
                 FROM blocks b ORDER BY b.id",
                &[],
            )?;
            for r in &blocks {
                let (hash, status, reward, all, credits) =
                    (r.text(1)?, r.text(2)?, r.int(3)?, r.int(4)?, r.int(5)?);
                let want = if status == "pending" { 0 } else { reward };
                if all != want || credits != want {
                    audit.block_mismatches.push(format!(
                        "block {hash} ({status}): entries {all}, credits {credits}, expected {want}"
                    ));
                }
            }
            audit.entries = first_int(c, "SELECT COUNT(*) FROM entries", &[])? as u64;
            Ok(audit)
        })
    }
}

fn set_meta(c: &mut dyn Conn, key: &str, value: &str) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[key.into(), value.into()],
    )?;
    Ok(())
}

fn set_status(c: &mut dyn Conn, id: i64, status: &str, now: u64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE blocks SET status = ?, status_at = ? WHERE id = ?",
        &[status.into(), i64_of(now, "now")?.into(), id.into()],
    )?;
    Ok(())
}

/// One entry to append: `amount` in `bucket` of `account`, for `site`'s part of a block.
struct Posting<'a> {
    block_id: i64,
    account: &'a str,
    site: &'a str,
    kind: &'a str,
    bucket: &'a str,
    amount: i64,
}

fn add_entry(c: &mut dyn Conn, p: Posting<'_>, now: u64) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO entries (block_id, account, site, kind, bucket, amount_sats, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            p.block_id.into(),
            p.account.into(),
            p.site.into(),
            p.kind.into(),
            p.bucket.into(),
            p.amount.into(),
            i64_of(now, "now")?.into(),
        ],
    )?;
    c.execute(
        "INSERT INTO balances (account, bucket, amount_sats) VALUES (?, ?, ?) \
         ON CONFLICT (account, bucket) DO UPDATE SET amount_sats = balances.amount_sats + excluded.amount_sats",
        &[p.account.into(), p.bucket.into(), p.amount.into()],
    )?;
    Ok(())
}

/// Moves everything a block holds in bucket `from` to bucket `to`, per account and site.
fn move_bucket(
    c: &mut dyn Conn,
    block_id: i64,
    from: &str,
    to: &str,
    kind: &str,
    now: u64,
) -> Result<(), StoreError> {
    let rows = c.query(
        "SELECT account, site, CAST(SUM(amount_sats) AS BIGINT) FROM entries WHERE block_id = ? AND bucket = ? GROUP BY account, site ORDER BY account, site",
        &[block_id.into(), from.into()],
    )?;
    for r in rows {
        let (account, site, amount) = (r.text(0)?, r.text(1)?, r.int(2)?);
        if amount == 0 {
            continue;
        }
        for (bucket, amount) in [(from, -amount), (to, amount)] {
            let p = Posting {
                block_id,
                account: &account,
                site: &site,
                kind,
                bucket,
                amount,
            };
            add_entry(c, p, now)?;
        }
    }
    Ok(())
}

/// Work rows of a block's window, summed per site in row order (deterministic on every
/// backend). Returns (first row id used, per-site work).
fn window_work(
    c: &mut dyn Conn,
    window: WindowConfig,
    prev_cutoff: i64,
    cutoff: i64,
    found_at: i64,
) -> Result<(Option<i64>, Vec<SiteWork>), StoreError> {
    const PAGE: i64 = 5000;
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    let mut first_id: Option<i64> = None;
    let mut add = |site: String, d: f64, id: i64, sums: &mut BTreeMap<String, f64>| {
        *sums.entry(site).or_insert(0.0) += d;
        first_id = Some(first_id.map_or(id, |f: i64| f.min(id)));
    };
    match window {
        WindowConfig::SincePreviousBlock | WindowConfig::Time { .. } => {
            let (lower, min_end) = match window {
                WindowConfig::Time { seconds } => (
                    0,
                    found_at.saturating_sub(i64::try_from(seconds).unwrap_or(i64::MAX)),
                ),
                _ => (prev_cutoff, i64::MIN),
            };
            let mut after = lower;
            loop {
                let rows = c.query(
                    "SELECT id, site, difficulty FROM work WHERE id > ? AND id <= ? AND window_end > ? ORDER BY id LIMIT ?",
                    &[after.into(), cutoff.into(), min_end.into(), PAGE.into()],
                )?;
                for r in &rows {
                    let id = r.int(0)?;
                    add(r.text(1)?, r.real(2)?, id, &mut sums);
                    after = id;
                }
                if (rows.len() as i64) < PAGE {
                    break;
                }
            }
        }
        WindowConfig::Difficulty { difficulty } => {
            let mut acc = 0.0;
            let mut before = cutoff + 1;
            'pages: loop {
                let rows = c.query(
                    "SELECT id, site, difficulty FROM work WHERE id < ? ORDER BY id DESC LIMIT ?",
                    &[before.into(), PAGE.into()],
                )?;
                for r in &rows {
                    let (id, d) = (r.int(0)?, r.real(2)?);
                    before = id;
                    if d <= 0.0 {
                        continue;
                    }
                    let take = d.min(difficulty - acc);
                    add(r.text(1)?, take, id, &mut sums);
                    acc += take;
                    if acc >= difficulty {
                        break 'pages;
                    }
                }
                if (rows.len() as i64) < PAGE {
                    break;
                }
            }
        }
    }
    Ok((
        first_id,
        sums.into_iter()
            .map(|(site, difficulty)| SiteWork { site, difficulty })
            .collect(),
    ))
}

/// Credits every pending block that is due, oldest first (stopping at the first that is not).
fn attribute_pending(
    c: &mut dyn Conn,
    settings: &LedgerSettings,
    now: u64,
) -> Result<usize, StoreError> {
    let pending = c.query(
        "SELECT id, reward_sats, found_at, finder_site FROM blocks WHERE status = 'pending' ORDER BY found_at, height, id",
        &[],
    )?;
    if pending.is_empty() {
        return Ok(0);
    }
    let now_i = i64_of(now, "now")?;
    let grace = i64_of(settings.attribution_grace_secs, "grace")?;
    let max_end = first_int(
        c,
        "SELECT CAST(COALESCE(MAX(window_end), -1) AS BIGINT) FROM work",
        &[],
    )?;
    let mut prev_cutoff = first_int(
        c,
        "SELECT CAST(COALESCE(MAX(work_to_id), 0) AS BIGINT) FROM blocks WHERE work_to_id IS NOT NULL",
        &[],
    )?;
    let mut done = 0;
    for b in &pending {
        let (id, reward, found_at, finder_site) = (b.int(0)?, b.uint(1)?, b.int(2)?, b.text(3)?);
        let due = max_end > found_at || now_i >= found_at.saturating_add(grace);
        if !due {
            break;
        }
        let upto = first_int(
            c,
            "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM work WHERE window_start <= ?",
            &[found_at.into()],
        )?;
        let cutoff = upto.max(prev_cutoff);
        let (from_id, work) = window_work(c, settings.window, prev_cutoff, cutoff, found_at)?;
        let window_difficulty: f64 = work.iter().map(|w| w.difficulty).sum();
        let split = split_block(
            reward,
            &work,
            &finder_site,
            &|s| settings.terms(s),
            &settings.treasury,
        )
        .map_err(|e| StoreError::Logic(format!("cannot split block {id}: {e}")))?;
        for s in &split.sites {
            c.execute(
                "INSERT INTO block_sites (block_id, site, difficulty, sats) VALUES (?, ?, ?, ?)",
                &[
                    id.into(),
                    (&s.site).into(),
                    s.difficulty.into(),
                    i64_of(s.sats, "sats")?.into(),
                ],
            )?;
        }
        for a in split.allocations() {
            let p = Posting {
                block_id: id,
                account: &a.account,
                site: &a.site,
                kind: "credit",
                bucket: "immature",
                amount: i64_of(a.sats, "sats")?,
            };
            add_entry(c, p, now)?;
        }
        c.execute(
            "UPDATE blocks SET status = 'immature', work_from_id = ?, work_to_id = ?, window_difficulty = ?, status_at = ? WHERE id = ? AND status = 'pending'",
            &[
                from_id.into(),
                cutoff.into(),
                window_difficulty.into(),
                now_i.into(),
                id.into(),
            ],
        )?;
        prev_cutoff = cutoff;
        done += 1;
    }
    Ok(done)
}

impl WorkSink for Ledger {
    fn record_work(&self, batch: &[WorkRecord]) -> Result<(), SinkError> {
        self.record_work_at(batch, unix_now())
            .map(|_| ())
            .map_err(|e| SinkError(e.to_string()))
    }

    fn record_journaled_work(
        &self,
        batch: &[WorkRecord],
        journal_upto: u64,
    ) -> Result<(), SinkError> {
        self.record_work_upto(batch, Some(journal_upto), unix_now())
            .map(|_| ())
            .map_err(|e| SinkError(e.to_string()))
    }

    fn serving_from(&self, height: u64) -> Result<(), SinkError> {
        // Only a new ledger: an existing one already scans from where it stopped (a pool killed
        // before its tracker ran once must not hide the blocks it found).
        let known = self
            .meta("scan_height")
            .map_err(|e| SinkError(e.to_string()))?;
        if known.is_none() {
            self.set_meta("scan_height", &height.to_string())
                .map_err(|e| SinkError(e.to_string()))?;
        }
        Ok(())
    }

    fn journal_applied(&self) -> Result<Option<u64>, SinkError> {
        self.journal_applied_seq()
            .map(Some)
            .map_err(|e| SinkError(e.to_string()))
    }

    fn record_block(&self, block: &FoundBlock) -> Result<(), SinkError> {
        let outcome = self
            .record_block_from(block, BlockSource::Pool, unix_now())
            .map_err(|e| SinkError(e.to_string()))?;
        tracing::info!(height = block.height, hash = %block.hash, reward = block.reward_sats, outcome = ?outcome, "block recorded in the treasury ledger");
        Ok(())
    }

    fn declared_block(&self, block: &DeclaredBlock) -> Result<(), SinkError> {
        self.record_declared(block)
            .map_err(|e| SinkError(e.to_string()))?;
        tracing::info!(hash = %block.hash, finder = %block.finder.full(), "block found on a declared job: credited once it is in the best chain");
        Ok(())
    }
}
